defmodule PhnCheck.Pending.Tracker do
  @moduledoc """
  Pending operations in tracker mode: `:phn_request_manager` with a `phn_tracker`
  (docs/tracker.md; `phn_rm_tracker`).

  The coordinator starts `state.pending_operations` as tracker mode's layout,
  `{:phn_pending, tracker, ops, due, limits}`, on a `phn_tracker` it owns: each node's
  responses are counted (by the tracker here; on the heap for operations of a few nodes
  by default), `ops` keeps each operation and its results on the coordinator's heap. The coordinator's calls are
  exactly the map mode's. What changes is the outcome: an operation waits for one
  response per split chunk of each node (`:phn_request_manager.split/1`, as
  `PhnCheck.Distributor.dispatch/2` splits), so a node sent 2 500 children reports them
  all; responses from nodes outside the operation are ignored.
  """
  @behaviour PhnCheck.Pending

  @impl true
  def available?, do: Code.ensure_loaded?(:phn_rm_tracker) and Code.ensure_loaded?(:phn_tracker)

  @impl true
  def init(%{rm: rm} = state, _opts) do
    # Tracker mode is the drop-in's (the plain-Erlang oracle only knows maps).
    unless rm == :phn_request_manager,
      do: raise(ArgumentError, "mode: :tracker needs request_manager: :phn_request_manager")

    # A bare tracker would do (`:phn_tracker.new()`: operations of at most 32 nodes are
    # then counted on the heap, docs/tracker.md); heap_max_nodes: 0 sends every operation
    # through the tracker, whose counters the tests of this example read.
    Map.put(state, :pending_operations, :phn_rm_tracker.pending(:phn_tracker.new(), %{heap_max_nodes: 0}))
  end

  @impl true
  def prepare(_state, op), do: op

  @impl true
  def store(%{rm: rm} = state, op), do: rm.store(state, op)

  @impl true
  def handle_response(%{rm: rm} = state, ref, node, results),
    do: rm.handle_response(state, ref, node, results)

  @impl true
  def handle_await(%{rm: rm} = state, ref, from), do: rm.handle_await(state, ref, from)

  @impl true
  def handle_timeout(%{rm: rm} = state, ref, from), do: rm.handle_timeout(state, ref, from)

  @impl true
  def cleanup_expired(%{rm: rm} = state), do: rm.cleanup_expired(state)

  @impl true
  def handle_info(_msg, _state), do: :unhandled

  @impl true
  def get(%{rm: rm} = state, ref), do: rm.get(state, ref)

  @impl true
  def refs(state), do: state |> ops() |> Map.keys()

  @impl true
  def count(state), do: state |> ops() |> map_size()

  defp ops(%{pending_operations: {:phn_pending, _tracker, ops, _due, _limits}}), do: ops
end
