# Table 2 (e): the heuristic loss with FWAHR pixel weights (Eq. 4-5, 9).
_base_ = ['../cpu_base.py']

model = dict(head=dict(loss=dict(method='heuristic_fwahr')))
