// Loaded between require.js and the widget manager (see nb_ipywidgets_js in _config.yml).
(function () {
  // The manager finds its icon fonts next to the AMD module paths of @jupyter-widgets/*, which
  // by default resolve against the page's own folder (404s): point them at the vendored copy.
  var here = document.currentScript.src.split("?")[0];
  var manager = here.slice(0, here.lastIndexOf("/") + 1) + "vendor/html-manager";
  require.config({
    paths: {
      "@jupyter-widgets": manager,
      "@jupyter-widgets/html-manager/dist": manager,
    },
  });

  // The manager typesets widget labels with MathJax 2's MathJax.Hub.Queue; the book loads
  // MathJax 3, which has no Hub (pages with both math and widgets threw). Forward to MathJax 3.
  // MathJax 3 replaces window.MathJax when its (deferred) script runs, so add the shim at
  // DOMContentLoaded, before the manager (registered later) renders the widgets.
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub) return;
    mathjax.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          var mj = window.MathJax;
          if (Array.isArray(job) && job[0] === "Typeset" && mj && mj.typesetPromise) {
            mj.typesetPromise([job[2]]).catch(function (err) { console.warn(err); });
          }
        });
      },
    };
  });
})();
