"""Every endpoint of section 4 of the reference, with its documented auth: one module per section of it.

Importing a section registers its routes on `routing.bp`; ROUTES (so the OpenAPI document and the docs page)
lists them in the order they register, which is the order below: keep it.
"""

from . import keys  # noqa: F401
from . import widget  # noqa: F401
from . import users  # noqa: F401
from . import actions  # noqa: F401
from . import pools  # noqa: F401
from . import campaigns  # noqa: F401
from . import transactions  # noqa: F401
from . import dashboard  # noqa: F401
from . import webhooks  # noqa: F401
