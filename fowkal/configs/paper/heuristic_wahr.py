# Table 3: the heuristic loss with WAHR pixel weights.
_base_ = ['../paper_base.py']

model = dict(head=dict(loss=dict(method='heuristic_wahr')))
