"""Drawing: one palette and style (:mod:`.style`), the paper's figures (:mod:`.figures`), the keypoints at a
glance (:mod:`.keypoints`), the result chapters' figures (:mod:`.results`, :mod:`.kaf_study`,
:mod:`.performance`), run plots (:mod:`.plots`), the benchmark's contact sheet, the book's explorers
(:mod:`.widgets`), the pages' helpers (:mod:`.pages`) and the Sphinx extension that re-executes the pages
that read data when it changed (:mod:`.sphinx_inputs`)."""
