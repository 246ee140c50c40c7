defmodule PhnCheck.CNodeGlueTest do
  @moduledoc """
  The hand-written C-node glue (`PhnCheck.Pending.CNode`, the "manual" example beside
  `ProcessHubNative.install(mode: :cnode)`): every `{:error, reason}` report of the
  C-node ends the operation (the awaiter gets what was collected: nothing), and a
  `phn_cnode` that does not start is an `{:error, reason}` / a raise for the caller,
  which is left as it was.
  """
  use ExUnit.Case, async: false

  alias PhnCheck.{Child, Cluster, Coordinator, StartCheck}
  alias PhnCheck.Pending.CNode
  alias ProcessHub.{Future, StartResult}

  @moduletag timeout: 120_000

  # The targets (this node) wait before they run the requests: the injected report comes first.
  defp start_hub do
    hub = :"phn_glue_hub_#{System.unique_integer([:positive])}"
    pid = start_supervised!({Coordinator, hub_id: hub, mode: :cnode, exec_delay: 1500})
    {hub, pid}
  end

  defp start_op(hub, tag) do
    specs = Enum.map(1..5, &Child.spec({tag, &1}))
    {:ok, future} = Coordinator.start_children(hub, specs, awaitable: true)
    future
  end

  test "{:error, :enomem} from the C-node before the await: the await answers with nothing collected" do
    {hub, pid} = start_hub()
    future = start_op(hub, :enomem)
    send(pid, {:phn_cnode_op, future.ref, {:error, :enomem}})

    assert %StartResult{started: []} = Future.await(future)
    assert Process.alive?(pid)
    assert Coordinator.pending_count(hub) == 0
  end

  test "{:error, :undecodable} (or any other reason) while awaited: the awaiter gets its answer" do
    {hub, pid} = start_hub()

    for {reason, tag} <- [undecodable: :undecodable, some_future_reason: :other] do
      future = start_op(hub, tag)
      task = Task.async(fn -> Future.await(future) end)
      Cluster.wait_until(fn -> Coordinator.pending_operation(hub, future.ref).awaiter != nil end)
      send(pid, {:phn_cnode_op, future.ref, {:error, reason}})

      assert %StartResult{started: []} = Task.await(task)
      assert Process.alive?(pid)
      assert Coordinator.pending_operation(hub, future.ref) == nil
    end
  end

  # On a peer of its own: no phn_cnode runs there yet.
  test "a phn_cnode that does not start: {:error, reason} at once, the caller left as it was" do
    {peer, p} = Cluster.start_peer!("phn_glue")

    try do
      # Refused before anything starts: no exit signal will ever come.
      assert {{:error, :no_cookie}, false, true, :none} = :erpc.call(p, StartCheck, :run, [%{cookie: ""}])
      # Started, then failed in init: its exit signal does not reach the caller.
      assert {{:error, _}, false, true, :none} = :erpc.call(p, StartCheck, :run, [%{wrapper: "false"}])
      assert :erpc.call(p, Process, :whereis, [:phn_cnode]) == nil

      assert {:exception, %RuntimeError{message: "phn_cnode did not start: :no_cookie"}, _} =
               catch_error(:erpc.call(p, CNode, :ensure_cnode!, [%{cookie: ""}]))
    after
      Cluster.stop_peer(peer)
    end
  end
end
