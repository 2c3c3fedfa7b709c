"""Studies over many runs, each returning summaries the book's pages show: the paper's published numbers
(:mod:`.paper`), the ablation (Tables 2-3 and the verdict on each claim, :mod:`.ablation`) and the results
chapter's tables (:mod:`.results`), your own run beside the committed ones (:mod:`.local_run`), the KAF noise
study (:mod:`.kaf_study`, :mod:`.kaf_push`, :mod:`.kaf_report`), the embedded benchmark (:mod:`.benchmark`),
the performance chapter (:mod:`.performance`), the book's opening findings (:mod:`.findings`) and which
records they read (:mod:`.records`)."""
