defmodule PhnCheck.Registry do
  @moduledoc """
  The hub's process registry, as ProcessHub keeps it on every node: an ETS set of
  `{child_id, {child_spec, [{node, pid}], metadata}}` in `hub.storage.registry`, filled
  locally on start and by the `PidsRegisterRequest`s other nodes propagate.
  """

  def new, do: :ets.new(:phn_check_registry, [:set, :public, read_concurrency: true])

  def lookup(%{storage: %{registry: table}}, cid) do
    case :ets.lookup(table, cid) do
      [{^cid, row}] -> row
      [] -> nil
    end
  end

  def size(%{storage: %{registry: table}}), do: :ets.info(table, :size)

  @doc "Merges `%{cid => {spec, node_pids, meta}}` into the registry (node entries replaced)."
  def bulk_insert(hub, children_data) do
    Enum.each(children_data, fn {cid, {spec, node_pids, meta}} ->
      merged =
        case lookup(hub, cid) do
          nil -> node_pids
          {_, old, _} -> Keyword.merge(old, node_pids)
        end

      :ets.insert(hub.storage.registry, {cid, {spec, merged, meta}})
    end)
  end

  @doc "Removes the given nodes of each `{cid, nodes}`; a row left without nodes is deleted."
  def bulk_delete(hub, cid_nodes) do
    Enum.each(cid_nodes, fn {cid, nodes} ->
      case lookup(hub, cid) do
        nil ->
          :ok

        {spec, node_pids, meta} ->
          case Keyword.drop(node_pids, nodes) do
            [] -> :ets.delete(hub.storage.registry, cid)
            left -> :ets.insert(hub.storage.registry, {cid, {spec, left, meta}})
          end
      end
    end)
  end
end
