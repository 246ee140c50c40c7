defmodule ProcessHubNative.Events do
  @moduledoc """
  Operation events for `:telemetry`. When the telemetry application is loaded at
  `ProcessHubNative.install/1`, the installed module sends `handle_response/4` and
  `cleanup_expired/1` through here: each calls `:phn_request_manager` and then emits

    * `[:process_hub_native, :operation, :complete]`, metadata `%{transaction_id: ref,
      node: node}` (the node whose response completed it), when a response finalized a
      pending operation;
    * `[:process_hub_native, :operation, :expired]`, metadata `%{count: n}`, when a
      cleanup dropped `n` expired operations.

  Both read `pending_operations` before and after the call: a map (map and C-node modes)
  or tracker mode's `{:phn_pending, tracker, ops, due, limits}` /
  `{:phn_pending, tracker, ops, due, limits, legacy}` (whose `ops` and `legacy` maps hold the
  pending operations). Without telemetry the installed module calls
  the drop-in directly and this module is not involved.
  """

  @drop_in :phn_request_manager

  @doc "`:phn_request_manager.handle_response/4`, then the `:complete` event if it completed the operation."
  @spec handle_response(map(), reference(), node(), list()) :: {:noreply, map()}
  def handle_response(state, ref, node, results) do
    pending? = pending?(state, ref)
    {:noreply, new_state} = reply = @drop_in.handle_response(state, ref, node, results)

    if pending? == true and pending?(new_state, ref) == false,
      do: ProcessHubNative.Telemetry.execute([:operation, :complete], %{transaction_id: ref, node: node})

    reply
  end

  @doc "`:phn_request_manager.cleanup_expired/1`, then the `:expired` event if it dropped any."
  @spec cleanup_expired(map()) :: map()
  def cleanup_expired(state) do
    new_state = @drop_in.cleanup_expired(state)

    with before when is_integer(before) <- pending_count(state),
         now when is_integer(now) <- pending_count(new_state),
         dropped when dropped > 0 <- before - now do
      ProcessHubNative.Telemetry.execute([:operation, :expired], %{count: dropped})
    end

    new_state
  end

  # true / false where the pending operations can be read; nil otherwise (a bare tracker,
  # before the first store wraps it).
  defp pending?(%{pending_operations: pending}, ref), do: holds?(pending, ref)

  defp holds?(pending, ref) when is_map(pending), do: Map.has_key?(pending, ref)
  defp holds?({:phn_pending, _tracker, ops, _due, _limits}, ref), do: Map.has_key?(ops, ref)

  defp holds?({:phn_pending, _tracker, ops, _due, _limits, legacy}, ref),
    do: Map.has_key?(ops, ref) or Map.has_key?(legacy, ref)

  defp holds?(_other, _ref), do: nil

  defp pending_count(%{pending_operations: pending}) when is_map(pending), do: map_size(pending)

  defp pending_count(%{pending_operations: {:phn_pending, _tracker, ops, _due, _limits}}),
    do: map_size(ops)

  defp pending_count(%{pending_operations: {:phn_pending, _tracker, ops, _due, _limits, legacy}}),
    do: map_size(ops) + map_size(legacy)

  defp pending_count(_state), do: nil
end
