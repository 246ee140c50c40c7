defmodule ProcessHub.Service.State do
  @moduledoc """
  Stand-in for the part of `ProcessHub.Service.State` that RequestManager calls
  (REFERENCE.md §5.1): a hub is partitioned unless its system `Registry`
  (`hub.procs.system_registry`, unique keys) holds a live `"dist_sup"` entry.
  """

  @dist_sup_key "dist_sup"

  def dist_sup_key, do: @dist_sup_key

  def is_partitioned?(%{procs: %{system_registry: registry}}) do
    case Registry.lookup(registry, @dist_sup_key) do
      [] -> true
      [{pid, _}] -> not Process.alive?(pid)
      _ -> false
    end
  end
end
