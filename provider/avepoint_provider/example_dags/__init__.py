"""Example DAGs shipped with the provider; point a DAGs folder (or a DagBag) at this package's folder."""
