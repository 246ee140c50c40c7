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

  Both read `pending_operations` before and after the call, so they only report while it
  is a map (map and C-node modes); in tracker mode nothing is emitted from here. Without telemetry the
  installed module calls the drop-in directly and this module is not involved.
  """

  @drop_in :phn_request_manager

  @doc "`:phn_request_manager.handle_response/4`, then the `:complete` event if it completed the operation."
  @spec handle_response(map(), reference(), node(), list()) :: {:noreply, map()}
  def handle_response(state, ref, node, results) do
    pending? = pending?(state, ref)
    {:noreply, new_state} = reply = @drop_in.handle_response(state, ref, node, results)

    if pending? and pending?(new_state, ref) == false,
      do: ProcessHubNative.Telemetry.execute([:operation, :complete], %{transaction_id: ref, node: node})

    reply
  end

  @doc "`:phn_request_manager.cleanup_expired/1`, then the `:expired` event if it dropped any."
  @spec cleanup_expired(map()) :: map()
  def cleanup_expired(state) do
    new_state = @drop_in.cleanup_expired(state)

    with %{pending_operations: before} when is_map(before) <- state,
         %{pending_operations: now} when is_map(now) <- new_state,
         dropped when dropped > 0 <- map_size(before) - map_size(now) do
      ProcessHubNative.Telemetry.execute([:operation, :expired], %{count: dropped})
    end

    new_state
  end

  # true / false for a map; nil when pending_operations is not a map (tracker mode).
  defp pending?(%{pending_operations: pending}, ref) when is_map(pending), do: Map.has_key?(pending, ref)
  defp pending?(_state, _ref), do: nil
end
