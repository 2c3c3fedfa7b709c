# Table 2 (c): MSE on body+foot, AWing on face+hand, fixed balance (Eq. 4-5).
_base_ = ['../paper_base.py']

model = dict(head=dict(loss=dict(method='heuristic')))
