"""Griffin's Feature Marketplace.

Definitions users write in their project's ``features.py`` (:mod:`griffin.features.definitions`,
:mod:`griffin.features.sources`, :mod:`griffin.features.checks`,
:mod:`griffin.features.on_demand`, :mod:`griffin.features.services`), the loader that collects
them (:mod:`griffin.features.project`) and the online stores (:mod:`griffin.features.online`).

Nothing is imported here, so ``import griffin.features.online`` does not pay for pandas or
the definition machinery, and the definition modules do not pay for the stores.
"""
