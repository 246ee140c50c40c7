defmodule PhnCheck.Worker do
  @moduledoc """
  The target side (REFERENCE.md §3.1, §3.2, §4.2): a coordinator that receives
  `{:requests_handle_event, requests}` hands them to this worker, which runs every
  request concurrently (`Task.async_stream`, killed after `cross_node_request_timeout`,
  so a slow request sends no response). Start and stop requests answer the originating
  coordinator with `RequestManager.send_response(:operation_response, opts, results)`,
  a `GenServer.cast` to `{hub_id, originating_node}`, exactly as ProcessHub does; the
  registry changes are then propagated to the other hub nodes as
  `PidsRegisterRequest` / `PidsUnregisterRequest` (split by `RequestManager.split/1`).

  `hub` is a snapshot of the coordinator state without its pending operations.
  """

  alias ProcessHub.Request.Handler.{
    PidsRegisterRequest,
    PidsUnregisterRequest,
    StartChildrenRequest,
    StopChildrenRequest
  }

  def handle_requests(requests, hub) do
    if hub.exec_delay > 0, do: Process.sleep(hub.exec_delay)

    requests
    |> Task.async_stream(&execute(&1, hub),
      timeout: hub.cross_node_request_timeout,
      on_timeout: :kill_task,
      ordered: false
    )
    |> Stream.run()
  end

  @doc "Runs one request on this node."
  def execute(%StartChildrenRequest{} = req, %{rm: rm} = hub) do
    rm.with_partition_check(hub, fn ->
      _strategies = rm.load_strategies(hub)
      start_opts = rm.request_to_opts(req)
      local = Enum.filter(req.children, fn %{nodes: nodes} -> node() in nodes end)
      results = Enum.map(local, &{&1.child_id, start_child(hub, &1)})

      registered =
        for {%{child_id: cid} = child, {_, {:ok, pid}}} <- Enum.zip(local, results),
            into: %{},
            do: {cid, {child.child_spec, [{node(), pid}], child.metadata}}

      PhnCheck.Registry.bulk_insert(hub, registered)
      rm.send_response(StartChildrenRequest.response_type(), start_opts, results)
      propagate(hub, PidsRegisterRequest.new(registered))
      :ok
    end)
  end

  def execute(%StopChildrenRequest{} = req, %{rm: rm} = hub) do
    rm.with_partition_check(hub, fn ->
      stop_opts = rm.request_to_opts(req)

      {local, stopped, forward} =
        Enum.reduce(req.children, {[], [], []}, fn %{child_id: cid} = child, {local, stopped, fwd} ->
          case PhnCheck.Registry.lookup(hub, cid) do
            nil ->
              {local, [cid | stopped], fwd}

            {_spec, node_pids, _meta} ->
              case Keyword.get(node_pids, node()) do
                nil ->
                  {local, stopped, rm.populate_forward(fwd, Keyword.keys(node_pids) -- [req.node], child)}

                pid ->
                  {[{cid, pid} | local], stopped, fwd}
              end
          end
        end)

      Enum.each(local, fn {_cid, pid} -> DynamicSupervisor.terminate_child(hub.procs.dist_sup, pid) end)
      removed = Enum.map(local, fn {cid, _} -> {cid, [node()]} end)
      PhnCheck.Registry.bulk_delete(hub, removed)
      forward_stops(hub, forward, req.options)

      results = Enum.map(Enum.map(local, &elem(&1, 0)) ++ stopped, &{&1, :ok})
      rm.send_response(StopChildrenRequest.response_type(), stop_opts, results)
      propagate(hub, PidsUnregisterRequest.new(removed))
      :ok
    end)
  end

  def execute(%PidsRegisterRequest{children_data: data}, hub), do: PhnCheck.Registry.bulk_insert(hub, data)
  def execute(%PidsUnregisterRequest{removable_cid_nodes: l}, hub), do: PhnCheck.Registry.bulk_delete(hub, l)

  defp start_child(hub, %{child_id: cid, child_spec: spec}) do
    with {_spec, node_pids, _meta} <- PhnCheck.Registry.lookup(hub, cid),
         pid when is_pid(pid) <- Keyword.get(node_pids, node()) do
      {:error, {:already_started, pid}}
    else
      _ -> do_start(hub, spec)
    end
  end

  defp do_start(hub, spec) do
    case DynamicSupervisor.start_child(hub.procs.dist_sup, spec) do
      {:ok, pid, _info} -> {:ok, pid}
      other -> other
    end
  end

  # Children registered on other nodes: fire-and-forget stop requests to those nodes,
  # answered to this node under a fresh reference (so ignored here), as ProcessHub does.
  defp forward_stops(_hub, [], _opts), do: :ok

  defp forward_stops(hub, forward, opts) do
    Enum.each(forward, fn {node, children} ->
      req = %StopChildrenRequest{
        transaction_id: make_ref(),
        hub_id: hub.hub_id,
        originating_node: node(),
        node: node,
        children: children,
        options: opts,
        status: :dispatched
      }

      send({hub.hub_id, node}, {:requests_handle_event, hub.rm.split(req)})
    end)
  end

  defp propagate(hub, request) do
    if request_empty?(request) do
      :ok
    else
      requests = hub.rm.split(request)
      for node <- hub.nodes, node != node(), do: send({hub.hub_id, node}, {:requests_handle_event, requests})
      :ok
    end
  end

  defp request_empty?(%PidsRegisterRequest{children_data: d}), do: map_size(d) == 0
  defp request_empty?(%PidsUnregisterRequest{removable_cid_nodes: l}), do: l == []
end
