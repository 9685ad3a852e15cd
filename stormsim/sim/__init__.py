"""The SimPy world: API store, controller drivers, scheduler, kubelet and scenario events."""
