"""Sample systems of record and inbox for the demo and the tests.

* `policies.build_policy_table`: the policy system of record, 25,000 real
  freMTPLmini policies with synthetic holders, dates and covers.
* `inbox.generate_inbox`: realistic claim e-mails (`.eml`) with ground truth.
* `photos.render_photo`: claim photos cut from skimage's bundled photographs.

Submodules are imported on use, so importing this package stays cheap.
"""
