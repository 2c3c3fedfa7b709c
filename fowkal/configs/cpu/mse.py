# Table 2 (a): MSE on all keypoints (Eq. 1), the baseline.
_base_ = ['../cpu_base.py']

model = dict(head=dict(loss=dict(method='mse')))
