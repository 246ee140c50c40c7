defmodule PhnCheck.Strategy.Hash do
  @moduledoc """
  The check's distribution strategy: a child belongs to the node at
  `:erlang.phash2(child_id, n)` of the sorted hub nodes (and the next ones, cyclically,
  for a replication factor above 1). Deterministic, so tests can predict placement.
  """
  defstruct []

  def nodes(%{nodes: nodes}) when is_list(nodes), do: Enum.sort(nodes)
  def nodes(_hub), do: [node()]

  defimpl ProcessHub.Strategy.Distribution.Base do
    def distribution_signature(_strategy, hub),
      do: :erlang.phash2(PhnCheck.Strategy.Hash.nodes(hub))

    def belongs_to(_strategy, hub, child_id, replication_factor) do
      nodes = PhnCheck.Strategy.Hash.nodes(hub)
      first = :erlang.phash2(child_id, length(nodes))

      nodes
      |> Stream.cycle()
      |> Stream.drop(first)
      |> Enum.take(min(replication_factor, length(nodes)))
    end
  end
end
