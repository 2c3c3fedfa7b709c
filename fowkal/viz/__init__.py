"""Drawing: one palette and style (:mod:`.style`), the paper's figures (:mod:`.figures`), run plots
(:mod:`.plots`), the benchmark's contact sheet, the book's explorers (:mod:`.widgets`), the result pages'
helpers (:mod:`.pages`) and the Sphinx extension that rebuilds data pages (:mod:`.sphinx_inputs`)."""
