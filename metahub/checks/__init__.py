"""MetaChecks: pure functions over fetched resource data (no AWS calls here).

Importing the package registers every built-in check (:mod:`metahub.checks.catalog`); the
registry itself (:mod:`metahub.checks.base`) imports none of them.
"""

from metahub.checks import catalog as catalog
