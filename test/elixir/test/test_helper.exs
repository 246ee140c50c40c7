# The coordinator tests run across peer nodes: this VM must be distributed.
PhnCheck.Cluster.ensure_distributed!()

# Pending-operation modes that are not wired yet (PhnCheck.Pending.Tracker: issue 3,
# PhnCheck.Pending.CNode: issue 4) are excluded until their available?/0 says true.
unavailable = for mode <- PhnCheck.Pending.modes(), not PhnCheck.Pending.available?(mode), do: {:mode, mode}

ExUnit.start(exclude: unavailable)
