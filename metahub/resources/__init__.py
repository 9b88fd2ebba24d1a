"""Resource specs: how each AWS resource type is listed and described, in batches.

Importing the package registers every built-in spec (:mod:`metahub.resources.catalog`); the
registry itself (:mod:`metahub.resources.spec`) imports none of them.
"""

from metahub.resources import catalog as catalog
