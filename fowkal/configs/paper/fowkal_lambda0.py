# Control (not in the paper): FoWKAL's loss (Eq. 8 with FWAHR, Eq. 9) with lambda fixed at 0, i.e. part-normalised
# MSE weighted by FWAHR, and no KAF head: separates FWAHR from the learned factor.
_base_ = ['../paper_base.py']

model = dict(head=dict(loss=dict(method='fowkal_lambda0')))
