# The coordinator tests run across peer nodes: this VM must be distributed.
PhnCheck.Cluster.ensure_distributed!()

# Every pending-operation mode (map, tracker, C-node) runs: none is excluded.
for mode <- PhnCheck.Pending.modes(),
    not PhnCheck.Pending.available?(mode),
    do: raise("pending-operation mode #{mode} is not available on this build")

ExUnit.start()
