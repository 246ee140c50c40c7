defmodule PhnCheck.Pending.Map do
  @moduledoc """
  ProcessHub's own pending-operation container (REFERENCE.md §4.3, §4.4): a plain map in
  `state.pending_operations`, every message handled by the RequestManager module in
  `state.rm` exactly as ProcessHub's coordinator calls `RequestManager`.
  """
  @behaviour PhnCheck.Pending

  @impl true
  def available?, do: true

  @impl true
  def init(state, _opts), do: Map.put(state, :pending_operations, %{})

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
  def refs(%{pending_operations: pending}), do: Map.keys(pending)

  @impl true
  def count(%{pending_operations: pending}), do: map_size(pending)
end
