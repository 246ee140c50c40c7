defmodule PhnCheck.CoordinatorLocalTest do
  @moduledoc "The coordinator's cleanup timer on one node (REFERENCE.md §4.3, §6.3)."
  use ExUnit.Case, async: true

  alias PhnCheck.Coordinator
  alias ProcessHub.Constant.StorageKey
  alias ProcessHub.Service.{RequestManager, Storage}

  defp start_hub(opts) do
    hub = :"phn_local_hub_#{System.unique_integer([:positive])}"
    pid = start_supervised!({Coordinator, [hub_id: hub] ++ opts})
    {hub, pid}
  end

  defp misc(pid), do: :sys.get_state(pid).storage.misc

  test "req_cleanup_interval: 60 000 ms by default, a custom value is honoured" do
    {_, pid} = start_hub([])
    assert Storage.get(misc(pid), StorageKey.rqcli()) == 60_000
    {_, pid} = start_hub(req_cleanup_interval: 120_000)
    assert Storage.get(misc(pid), StorageKey.rqcli()) == 120_000
  end

  for rm <- [:phn_request_manager, :phn_request_manager_erl] do
    test "#{rm}: cleanup_expired_requests drops an injected expired operation, keeps a valid one" do
      {hub, pid} = start_hub(request_manager: unquote(rm))
      now = System.monotonic_time(:millisecond)
      expired = %RequestManager{transaction_id: make_ref(), nodes_data: [], expires_at: now - 1000}
      valid = %RequestManager{transaction_id: make_ref(), nodes_data: [], expires_at: now + 60_000}

      :sys.replace_state(pid, fn state ->
        state |> unquote(rm).store(expired) |> unquote(rm).store(valid)
      end)

      assert Enum.sort(Coordinator.pending_refs(hub)) ==
               Enum.sort([expired.transaction_id, valid.transaction_id])

      send(pid, :cleanup_expired_requests)
      assert Coordinator.pending_refs(hub) == [valid.transaction_id]
      assert Coordinator.pending_operation(hub, valid.transaction_id) == valid
    end
  end
end
