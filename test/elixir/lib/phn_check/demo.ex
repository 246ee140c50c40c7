defmodule PhnCheck.Demo do
  @moduledoc """
  `make demo` (scripts/demo.sh runs `mix run -e 'PhnCheck.Demo.main()'` with a private
  epmd in `ERL_EPMD_PORT`):

    1. this VM becomes node `a` and starts two peer BEAM nodes `b` and `c`, then the C-node
       the way a ProcessHub application would: `config :process_hub_native, cnode: [start:
       true]` and `ProcessHubNative.Application` (restarted here, now that the node is
       distributed), which runs `phn_cnode` (the cookie goes to the C-node over its port);
    2. a ProcessHub-shaped coordinator (`PhnCheck.Coordinator`) runs on the three nodes and
       knows nothing of this library: it calls `ProcessHub.Service.RequestManager` by name
       only (the test project's stand-in for ProcessHub's module). `ProcessHubNative.install/1`
       swaps in the native drop-in: `mode: :cnode` on `a` (the C-node collects the nodes'
       responses and hands the coordinator one `operation_response` per operation),
       `mode: :map` on `b` and `c` (their workers split and answer through the drop-in);
    3. 5 000 children are started, spread over the three nodes by the hash strategy,
       each node's share split into chunks of 1 000 (`:phn_request_manager.split/1`),
       with a progress line while something changes, then a report: per node children
       started and chunks received, the C-node's responses and completions, and the
       completion time;
    4. the C-node is given four hubs, one per partition strategy, that follow the
       cluster; node `c` is stopped and each strategy's verdict, as the C-node answers it
       (`gen_server:call({Hub, CNode}, is_partitioned)`), is shown before and after, beside
       `phn_partition`'s (the same C core through the NIF) for the same events.

  Any mismatch (a child missing, a chunk count that differs, the C-node disagreeing with
  `phn_partition`, an install refused) fails the demo: it prints what failed and exits 1.
  The OS pids of the peers and the C-node are written to `$PHN_DEMO_PIDS` so that the
  script can check that none is left. `$PHN_DEMO_ID` makes the node names unique.
  """

  alias PhnCheck.{Child, Coordinator}
  alias ProcessHub.{Future, StartResult}
  alias ProcessHub.Service.RequestManager

  @hub :demo_hub
  @children 5000
  @chunk 1000
  @host ~c"127.0.0.1"

  @strategies [
    {"Divergence", :divergence, {:phn_partition, :divergence, []}},
    {"StaticQuorum(quorum_size: 3)", :static, {:phn_partition, :static_quorum, [3]}},
    {"DynamicQuorum(quorum_size: 75%)", :dynamic, {:phn_partition, :dynamic_quorum, [75]}},
    {"MajorityQuorum", :majority, {:phn_partition, :majority_quorum, []}}
  ]

  @doc "Runs the demo and halts the VM: 0 on success, 1 on failure."
  def main do
    code =
      try do
        run()
        0
      rescue
        e -> failed(Exception.message(e))
      catch
        kind, reason -> failed(inspect({kind, reason}))
      end

    System.halt(code)
  end

  defp failed(message) do
    IO.puts(:stderr, "demo: FAILED: #{message}")
    1
  end

  defp run do
    id = System.get_env("PHN_DEMO_ID") || System.pid()
    # The report is the output: info logs (the C-node monitor's "started") are not shown.
    Logger.configure(level: :warning)
    pids_file = System.get_env("PHN_DEMO_PIDS")

    {a, peers} =
      step("starting three BEAM nodes", fn ->
        name = :"demo_a_#{id}@127.0.0.1"
        {:ok, _} = Node.start(name, :longnames)
        peers = for x <- [:b, :c], do: start_peer(~c"demo_#{x}_#{id}")
        {node(), peers}
      end)

    try do
      demo(a, peers, pids_file)
    after
      os_pids = if pids_file && File.exists?(pids_file), do: File.read!(pids_file), else: ""
      for {peer, _node} <- peers, do: stop_peer(peer)
      ProcessHubNative.uninstall()
      # The C-node runs under the application's supervisor: stopping the application
      # stops phn_cnode, and the C-node with it.
      Application.stop(:process_hub_native)
      # This VM reaps its children (the peers, the C-node) once they exit: wait for that,
      # so that nothing is left, not even a zombie, when it halts.
      for pid <- String.split(os_pids), do: wait_gone(pid, 3000)
    end
  end

  defp wait_gone(pid, ms) do
    if File.exists?("/proc/#{pid}") and ms > 0 do
      Process.sleep(50)
      wait_gone(pid, ms - 50)
    end
  end

  defp demo(a, peers, pids_file) do
    [{_, b}, {peer_c, c}] = peers
    nodes = [a, b, c]
    say("nodes: #{a} (coordinator), #{b}, #{c}; epmd port #{System.get_env("ERL_EPMD_PORT")}")

    cnode = step("starting the C-node", &start_cnode/0)

    os_pids = [:phn_cnode.os_pid() | for(n <- [b, c], do: :erpc.call(n, :os, :getpid, []))]
    if pids_file, do: File.write!(pids_file, Enum.map_join(os_pids, "\n", &to_string/1) <> "\n")

    say(
      "C-node: #{cnode} (os pid #{:phn_cnode.os_pid()}, phn_cnode under ProcessHubNative.Application; " <>
        "cookie given over its port)"
    )

    step("starting the coordinators", fn ->
      for n <- nodes do
        opts = [hub_id: @hub, nodes: nodes, mode: :map, request_manager: RequestManager]
        {:ok, _} = :erpc.call(n, Coordinator, :start, [opts])
      end
    end)

    step("ProcessHubNative.install/1", fn ->
      for n <- nodes do
        mode = if n == a, do: :cnode, else: :map
        result = :erpc.call(n, ProcessHubNative, :install, [[mode: mode]])
        check(result == :ok, "install(mode: #{mode}) on #{n}: #{inspect(result)}")
      end
    end)

    say(
      "ProcessHubNative.install/1: " <>
        Enum.map_join(nodes, ", ", &"#{short(&1)} #{:erpc.call(&1, ProcessHubNative, :mode, [])}") <>
        " (the coordinators call ProcessHub.Service.RequestManager)"
    )

    start_children(nodes)
    partition(nodes, c, peer_c)
  end

  # The way a ProcessHub application runs the C-node: `config :process_hub_native, cnode:
  # [start: true]`, read when the application starts. The application started with this
  # VM, before it was distributed (no C-node then): start it again with the config.
  defp start_cnode do
    :ok = Application.stop(:process_hub_native)
    Application.put_env(:process_hub_native, :cnode, start: true)

    case Application.ensure_all_started(:process_hub_native) do
      {:ok, _} -> :phn_cnode.cnode()
      {:error, reason} -> raise "phn_cnode did not start: #{inspect(start_failure(reason))}"
    end
  end

  defp start_failure({:process_hub_native, {{:shutdown, {:failed_to_start_child, :phn_cnode, reason}}, _}}),
    do: reason

  defp start_failure(reason), do: reason

  ## 5 000 children

  defp start_children(nodes) do
    cids = for i <- 1..@children, do: {:demo, i}
    plan = Enum.frequencies_by(cids, &hd(placement(nodes, &1)))
    chunks_planned = Map.new(plan, fn {n, count} -> {n, div(count + @chunk - 1, @chunk)} end)

    say(
      "starting #{@children} children over #{length(nodes)} nodes, chunks of #{@chunk}: " <>
        Enum.map_join(nodes, ", ", &"#{short(&1)} #{plan[&1]} (#{chunks_planned[&1]} chunks)")
    )

    {:ok, before} = :phn_cnode.stats()
    t0 = System.monotonic_time(:millisecond)
    ticker = spawn_link(fn -> progress(nodes, before, t0) end)

    result =
      step("the start operation", fn ->
        {:ok, future} =
          Coordinator.start_children(@hub, Enum.map(cids, &Child.spec/1), awaitable: true, timeout: 30_000)

        Future.await(future)
      end)

    elapsed = System.monotonic_time(:millisecond) - t0
    ref = Process.monitor(ticker)
    send(ticker, :stop)
    receive do: ({:DOWN, ^ref, _, _, _} -> :ok)
    {:ok, after_stats} = :phn_cnode.stats()

    %StartResult{status: status, errors: errors, started: started} = result
    check(status == :ok and errors == [], "start result: status #{inspect(status)}, #{length(errors)} errors")
    by_node = Enum.frequencies_by(started, fn {_cid, [{n, _pid}]} -> n end)
    check(Enum.sort(Enum.map(started, &elem(&1, 0))) == Enum.sort(cids), "not every child was reported")

    received =
      Map.new(nodes, fn n ->
        counts = Coordinator.requests_received({@hub, n})
        {n, Map.get(counts, ProcessHub.Request.Handler.StartChildrenRequest, 0)}
      end)

    responses = after_stats.responses - before.responses

    say("complete in #{elapsed} ms: #{length(started)}/#{@children} children reported")
    IO.puts("   #{pad("node", 30)} #{lpad("children started", 16)} #{lpad("chunks received", 16)}")

    for n <- nodes,
        do: IO.puts("   #{pad(to_string(n), 30)} #{lpad(by_node[n] || 0, 16)} #{lpad(received[n], 16)}")

    IO.puts(
      "   C-node: #{responses} responses recorded, " <>
        "#{after_stats.ops_completed - before.ops_completed} operation completed, " <>
        "#{after_stats.responses_unexpected_node - before.responses_unexpected_node} unexpected"
    )

    check(by_node == plan, "children per node #{inspect(by_node)} differ from the placement #{inspect(plan)}")

    check(
      received == chunks_planned,
      "chunks received #{inspect(received)}, split gave #{inspect(chunks_planned)}"
    )

    check(responses == Enum.sum(Map.values(chunks_planned)), "the C-node recorded #{responses} responses")
  end

  # A line every 20 ms while something changes: children running on each node (asked of
  # each node's distributed supervisor) and responses recorded by the C-node.
  defp progress(nodes, before, t0, last \\ nil) do
    receive do
      :stop -> progress_line(nodes, before, t0, nil)
    after
      20 -> progress(nodes, before, t0, progress_line(nodes, before, t0, last))
    end
  end

  defp progress_line(nodes, before, t0, last) do
    running = Enum.map(nodes, &local_children/1)

    responses =
      case :phn_cnode.stats() do
        {:ok, s} -> s.responses - before.responses
        _ -> "?"
      end

    now = {running, responses}

    if now != last do
      ms = System.monotonic_time(:millisecond) - t0
      counts = Enum.zip_with(nodes, running, &"#{short(&1)} #{lpad(&2, 4)}") |> Enum.join("  ")
      IO.puts("   [#{lpad(ms, 5)} ms] running: #{counts}   responses at the C-node: #{responses}")
    end

    now
  end

  defp local_children(n) do
    sup = {:via, Registry, {:"#{@hub}.SystemRegistry", ProcessHub.Service.State.dist_sup_key()}}
    :erpc.call(n, DynamicSupervisor, :count_children, [sup], 1000).active
  catch
    _, _ -> "?"
  end

  ## Partition verdicts

  defp partition(nodes, c, peer_c) do
    say("partition strategies: one hub each on the C-node, following the cluster")

    hubs =
      step("giving the C-node the four hubs", fn ->
        for {label, key, {m, f, args}} <- @strategies do
          strategy = apply(m, f, args)
          hub = :"demo_#{key}"
          {:ok, partitioned} = :phn_cnode.set_hub(hub, strategy, :cluster)
          :ok = :phn_cnode.subscribe(hub)
          {_, expect, state} = :phn_partition.init(strategy, nodes)
          check(partitioned == expect, "#{label}: C-node init #{partitioned}, phn_partition #{expect}")
          %{label: label, hub: hub, strategy: strategy, state: state}
        end
      end)

    before = Map.new(hubs, &{&1.hub, verdict(&1.hub)})

    # 'global' warns about the lost node on every survivor: expected here, not shown.
    Logger.configure(level: :error)
    say("stopping node #{c}")
    step("stopping node c", fn -> stop_peer(peer_c) end)
    rest = nodes -- [c]

    step("waiting for the C-node to see #{length(rest)} nodes", fn ->
      for h <- hubs, do: wait_until(fn -> hub_nodes(h.hub) == length(rest) end, 15_000)
    end)

    after_verdicts = Map.new(hubs, &{&1.hub, verdict(&1.hub)})
    pushes = collect_pushes()

    IO.puts("   #{pad("strategy", 34)} #{pad("3 nodes", 13)} #{pad("2 nodes", 13)} phn_partition")

    for h <- hubs do
      {lock, _} = :phn_partition.nodes_down(h.strategy, rest, [c], h.state)
      expect_after = before[h.hub] or lock
      agree = if after_verdicts[h.hub] == expect_after, do: "agrees", else: "DISAGREES"

      IO.puts(
        "   #{pad(h.label, 34)} #{pad(show(before[h.hub]), 13)} #{pad(show(after_verdicts[h.hub]), 13)} #{agree}"
      )

      check(
        agree == "agrees",
        "#{h.label}: the C-node says #{after_verdicts[h.hub]}, phn_partition #{expect_after}"
      )
    end

    changed = for {:phn_cnode_partition, hub, true} <- pushes, do: hub

    IO.puts(
      "   verdict changes pushed by the C-node: " <>
        if(changed == [], do: "none", else: Enum.map_join(changed, ", ", &to_string/1))
    )
  end

  defp verdict(hub) do
    case :phn_cnode.is_partitioned(hub) do
      b when is_boolean(b) -> b
      other -> raise "is_partitioned(#{hub}) from the C-node: #{inspect(other)}"
    end
  end

  defp hub_nodes(hub) do
    {:ok, %{nodes: nodes}} = :phn_cnode.hub_status(hub)
    length(nodes)
  end

  defp collect_pushes(acc \\ []) do
    receive do
      {:phn_cnode_partition, _, _} = m -> collect_pushes([m | acc])
    after
      200 -> Enum.reverse(acc)
    end
  end

  defp show(true), do: "PARTITIONED"
  defp show(false), do: "ok"

  ## Helpers

  defp placement(nodes, cid),
    do: ProcessHub.Strategy.Distribution.Base.belongs_to(%PhnCheck.Strategy.Hash{}, %{nodes: nodes}, cid, 1)

  defp start_peer(name) do
    {:ok, peer, node} = :peer.start_link(%{name: name, host: @host, longnames: true, wait_boot: 30_000})

    :ok = :erpc.call(node, :code, :add_paths, [:code.get_path()])
    {:ok, _} = :erpc.call(node, :application, :ensure_all_started, [:elixir])
    {:ok, _} = :erpc.call(node, :application, :ensure_all_started, [:logger])
    :ok = :erpc.call(node, Logger, :configure, [[level: :error]])
    {peer, node}
  end

  defp stop_peer(peer) do
    :peer.stop(peer)
  catch
    :exit, _ -> :ok
  end

  defp step(what, fun) do
    fun.()
  rescue
    e -> raise "#{what}: #{Exception.message(e)}"
  catch
    kind, reason -> raise "#{what}: #{inspect({kind, reason})}"
  end

  defp check(true, _what), do: :ok
  defp check(false, what), do: raise(what)

  defp wait_until(fun, ms) do
    cond do
      fun.() ->
        :ok

      ms <= 0 ->
        raise "condition not met in time"

      true ->
        Process.sleep(50)
        wait_until(fun, ms - 50)
    end
  end

  defp say(text), do: IO.puts("== demo: #{text}")
  defp short(n), do: n |> to_string() |> String.split("_") |> Enum.at(1)
  defp pad(x, n), do: String.pad_trailing(to_string(x), n)
  defp lpad(x, n), do: String.pad_leading(to_string(x), n)
end
