"""Studies over many runs: the paper's published numbers, the ablation (Tables 2-3 and the verdict on
each claim) and the KAF noise study."""
