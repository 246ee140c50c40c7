defmodule PhnCheck.Pending.CNode do
  @moduledoc """
  TODO(issue 4, lead): responses collected by the C-node (`phn_cnode`).

  To wire it: `init/2` starts (or finds) `phn_cnode` for this node and keeps the
  C-node's node name in the state; `prepare/2` sets every sub-request's
  `originating_node` to the C-node, so targets cast
  `{:operation_response, ref, node, results}` to `{hub_id, cnode}`; `store/2` registers
  the operation (expected nodes and chunk counts, deadline) with the C-node;
  `handle_info/2` takes the C-node's single completion message, finalizes with the
  handler (`RequestManager.finalize/2`) and replies to the awaiter; `handle_await/3`,
  `handle_timeout/3` and `cleanup_expired/1` keep the same replies as the map mode. Then
  flip `available?/0` to true: the `@tag mode: :cnode` tests run.
  """
  @behaviour PhnCheck.Pending

  @impl true
  def available?, do: false

  @impl true
  def init(_state, _opts), do: todo()
  @impl true
  def prepare(_state, _op), do: todo()
  @impl true
  def store(_state, _op), do: todo()
  @impl true
  def handle_response(_state, _ref, _node, _results), do: todo()
  @impl true
  def handle_await(_state, _ref, _from), do: todo()
  @impl true
  def handle_timeout(_state, _ref, _from), do: todo()
  @impl true
  def cleanup_expired(_state), do: todo()
  @impl true
  def handle_info(_msg, _state), do: :unhandled
  @impl true
  def get(_state, _ref), do: todo()
  @impl true
  def refs(_state), do: todo()
  @impl true
  def count(_state), do: todo()

  defp todo, do: raise("PhnCheck.Pending.CNode: C-node mode is not wired yet (issue 4)")
end
