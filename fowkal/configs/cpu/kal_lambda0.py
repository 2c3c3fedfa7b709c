# Control (not in the paper): KAL's part-normalised sum (Eq. 8) with lambda fixed at 0, i.e. part-normalised
# MSE for every keypoint, and no KAF head: separates Eq. 8's part re-weighting from the learned factor.
_base_ = ['../cpu_base.py']

model = dict(head=dict(loss=dict(method='kal_lambda0')))
