defmodule PhnCheck.Pending.Tracker do
  @moduledoc """
  Pending operations in the native `phn_tracker` table: `:phn_request_manager` in tracker
  mode (README.md, "Tracker mode"; `phn_rm_tracker`).

  `state.pending_operations` is a `phn_tracker` owned by the coordinator; every state
  function of `:phn_request_manager` sees it and runs in tracker mode, so the coordinator's
  calls are exactly the map mode's. What changes is the outcome: an operation waits for
  one response per split chunk of each node (`:phn_request_manager.split/1`, as
  `PhnCheck.Distributor.dispatch/2` splits), so a node sent 2 500 children reports them
  all; responses from nodes outside the operation are ignored.

  `refs/1` needs the tracked references, which the tracker does not list (it keeps no
  order, on purpose): the coordinator keeps them in `state.tracker_refs` and drops the
  ones the tracker no longer holds whenever they are read and at each cleanup tick.
  """
  @behaviour PhnCheck.Pending

  @impl true
  def available?, do: Code.ensure_loaded?(:phn_rm_tracker) and Code.ensure_loaded?(:phn_tracker)

  @impl true
  def init(%{rm: rm} = state, _opts) do
    # Tracker mode is the drop-in's (the plain-Erlang oracle only knows maps).
    unless rm == :phn_request_manager,
      do: raise(ArgumentError, "mode: :tracker needs request_manager: :phn_request_manager")

    state
    |> Map.put(:pending_operations, :phn_tracker.new())
    |> Map.put(:tracker_refs, MapSet.new())
  end

  @impl true
  def prepare(_state, op), do: op

  @impl true
  def store(%{rm: rm} = state, op) do
    state = rm.store(state, op)
    %{state | tracker_refs: MapSet.put(state.tracker_refs, op.transaction_id)}
  end

  @impl true
  def handle_response(%{rm: rm} = state, ref, node, results),
    do: rm.handle_response(state, ref, node, results)

  @impl true
  def handle_await(%{rm: rm} = state, ref, from), do: rm.handle_await(state, ref, from)

  @impl true
  def handle_timeout(%{rm: rm} = state, ref, from), do: rm.handle_timeout(state, ref, from)

  @impl true
  def cleanup_expired(%{rm: rm} = state) do
    state = rm.cleanup_expired(state)
    %{state | tracker_refs: live_refs(state)}
  end

  @impl true
  def handle_info(_msg, _state), do: :unhandled

  @impl true
  def get(%{rm: rm} = state, ref), do: rm.get(state, ref)

  @impl true
  def refs(state), do: state |> live_refs() |> MapSet.to_list()

  @impl true
  def count(%{pending_operations: tracker}), do: :phn_tracker.size(tracker)

  defp live_refs(%{pending_operations: tracker, tracker_refs: refs}) do
    refs |> Enum.filter(&match?({:ok, _, _}, :phn_tracker.peek(tracker, &1))) |> MapSet.new()
  end
end
