defmodule PhnCheck.Coordinator do
  @moduledoc """
  A small hub coordinator, written the way ProcessHub's coordinator uses RequestManager
  (REFERENCE.md §4): registered under the hub id on every node of the hub, it

    * `handle_call({:init_children_start, specs, opts})` /
      `handle_call({:init_children_stop, cids, opts})`: applies ProcessHub's option
      defaults, composes the operation (`RequestManager.new/4` +
      `compose_sub_requests/1`), dispatches the split sub-requests to the target nodes'
      coordinators, stores the operation, and replies `{:ok, future}` (awaitable) or
      `{:ok, :start_initiated | :stop_initiated}`;
    * `handle_cast({:operation_response, ref, node, results})` → `handle_response`;
    * `handle_call({:await_result, ref}, from)` (from `ProcessHub.Future.await/1`) →
      `handle_await`;
    * `handle_info({:await_timeout, ref, from})` → `handle_timeout`;
    * `handle_info(:cleanup_expired_requests)` → reschedules, then `cleanup_expired`;
    * `handle_info({:requests_handle_event, requests})` → runs them on this node
      (`PhnCheck.Worker`, in a task: the coordinator never waits on the work).

  Pluggable: `request_manager:` is the RequestManager module (`:phn_request_manager`,
  the NIF drop-in, by default; `:phn_request_manager_erl` the plain-Erlang oracle), and
  `mode:` picks the pending-operation container (`PhnCheck.Pending`): `:map` (ProcessHub's
  own), `:tracker` (`phn_tracker`) and `:cnode` (the C-node collects the responses).

  The state is the hub (ProcessHub v0.5.0-beta keeps `pending_operations` in `%Hub{}` and
  hands it to `finalize/2`): `hub_id`, `nodes`, `procs` (`system_registry`, `dist_sup`),
  `storage` (`misc`, `registry`), `rm`, `pending`, `pending_operations`, ...

  Options: `hub_id` (required), `nodes` (hub nodes, default `[node()]`), `mode`,
  `request_manager`, `req_cleanup_interval` (60 000 ms), `cross_node_request_timeout`
  (5 000 ms), `exec_delay` (ms a target waits before running requests, default 0:
  simulates ProcessHub's worker queue latency so tests can await before completion).
  """

  use GenServer

  alias ProcessHub.Constant.StorageKey
  alias ProcessHub.Service.Storage
  alias PhnCheck.Distributor

  @default_cleanup_interval 60_000

  ## Client API (ProcessHub-shaped)

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: Keyword.fetch!(opts, :hub_id))
  def start(opts), do: GenServer.start(__MODULE__, opts, name: Keyword.fetch!(opts, :hub_id))

  def child_spec(opts), do: %{id: {__MODULE__, opts[:hub_id]}, start: {__MODULE__, :start_link, [opts]}}

  @doc "`ProcessHub.start_children/3`: call timeout `5000 + 1 ms per child` unless `call_timeout`."
  def start_children(hub, specs, opts \\ []) do
    GenServer.call(hub, {:init_children_start, specs, opts}, call_timeout(specs, opts))
  end

  @doc "`ProcessHub.stop_children/3`."
  def stop_children(hub, cids, opts \\ []) do
    GenServer.call(hub, {:init_children_stop, cids, opts}, call_timeout(cids, opts))
  end

  defdelegate await(future), to: ProcessHub.Future

  @doc "Kills this node's distributed supervisor: the hub is partitioned here (REFERENCE §5.1)."
  def toggle_quorum_failure(hub), do: GenServer.call(hub, :toggle_quorum_failure)
  @doc "Restarts this node's distributed supervisor."
  def toggle_quorum_success(hub), do: GenServer.call(hub, :toggle_quorum_success)

  def pending_count(hub), do: GenServer.call(hub, :pending_count)
  @doc "How many requests this node's coordinator received to run, by request struct (chunks)."
  def requests_received(hub), do: GenServer.call(hub, :requests_received)
  def pending_refs(hub), do: GenServer.call(hub, :pending_refs)
  @doc "The pending operation of `ref`, or `nil`."
  def pending_operation(hub, ref), do: GenServer.call(hub, {:pending_operation, ref})
  def registry_size(hub), do: GenServer.call(hub, :registry_size)
  @doc "How many of `cids` this node's registry knows."
  def registered_count(hub, cids), do: GenServer.call(hub, {:registered_count, cids})
  def local_children(hub), do: GenServer.call(hub, :local_children)
  @doc "How many of `cids` run on the coordinator's node (live local pid in its registry)."
  def alive_count(hub, cids), do: GenServer.call(hub, {:alive_count, cids})

  defp call_timeout(list, opts), do: Keyword.get(opts, :call_timeout, 5000 + length(list))

  ## GenServer

  @impl true
  def init(opts) do
    hub_id = Keyword.fetch!(opts, :hub_id)
    mode = Keyword.get(opts, :mode, :map)
    pending = PhnCheck.Pending.module(mode)
    interval = Keyword.get(opts, :req_cleanup_interval, @default_cleanup_interval)
    nodes = Keyword.get(opts, :nodes, [node()])

    system_registry = :"#{hub_id}.SystemRegistry"
    {:ok, _} = Registry.start_link(keys: :unique, name: system_registry)
    dist_sup = {:via, Registry, {system_registry, ProcessHub.Service.State.dist_sup_key()}}
    {:ok, _} = start_dist_sup(dist_sup)

    misc = Storage.new()

    Storage.insert(
      misc,
      StorageKey.strdist(),
      Keyword.get(opts, :distribution_strategy, %PhnCheck.Strategy.Hash{})
    )

    Storage.insert(misc, StorageKey.strsyn(), :pubsub)
    Storage.insert(misc, StorageKey.strred(), :singularity)
    Storage.insert(misc, StorageKey.strmigr(), :cold_swap)
    Storage.insert(misc, StorageKey.rqcli(), interval)
    Storage.insert(misc, StorageKey.hn(), nodes)

    state = %{
      hub_id: hub_id,
      nodes: nodes,
      procs: %{system_registry: system_registry, dist_sup: dist_sup},
      storage: %{misc: misc, registry: PhnCheck.Registry.new()},
      mode: mode,
      pending: pending,
      rm: Keyword.get(opts, :request_manager, :phn_request_manager),
      cross_node_request_timeout: Keyword.get(opts, :cross_node_request_timeout, 5000),
      exec_delay: Keyword.get(opts, :exec_delay, 0),
      received: %{}
    }

    schedule_cleanup(state)
    {:ok, pending.init(state, opts)}
  end

  @impl true
  def handle_call({:init_children_start, specs, opts}, _from, state) do
    opts =
      opts
      |> Keyword.put(:init_cids, Enum.map(specs, & &1.id))
      |> put_defaults(
        timeout: 10_000,
        awaitable: false,
        check_existing: true,
        on_failure: :continue,
        metadata: %{}
      )

    case Distributor.compose_start_operation(state, specs, opts) do
      {:ok, op} -> {:reply, initiated(op, :start_initiated), state.pending.store(state, op)}
      {:error, _} = error -> {:reply, error, state}
    end
  end

  def handle_call({:init_children_stop, cids, opts}, _from, state) do
    opts = put_defaults(opts, timeout: 10_000, awaitable: false)

    case Distributor.compose_stop_operation(state, cids, opts) do
      {:ok, op} -> {:reply, initiated(op, :stop_initiated), state.pending.store(state, op)}
      {:error, _} = error -> {:reply, error, state}
    end
  end

  def handle_call({:await_result, ref}, from, state), do: state.pending.handle_await(state, ref, from)

  def handle_call(:toggle_quorum_failure, _from, state) do
    if ProcessHub.Service.State.is_partitioned?(state) do
      {:reply, {:error, :already_partitioned}, state}
    else
      :ok = DynamicSupervisor.stop(state.procs.dist_sup)
      {:reply, :ok, state}
    end
  end

  def handle_call(:toggle_quorum_success, _from, state) do
    if ProcessHub.Service.State.is_partitioned?(state) do
      {:ok, _} = start_dist_sup(state.procs.dist_sup)
      {:reply, :ok, state}
    else
      {:reply, {:error, :not_partitioned}, state}
    end
  end

  def handle_call(:pending_count, _from, state), do: {:reply, state.pending.count(state), state}
  def handle_call(:requests_received, _from, state), do: {:reply, state.received, state}
  def handle_call(:pending_refs, _from, state), do: {:reply, state.pending.refs(state), state}
  def handle_call({:pending_operation, ref}, _from, state), do: {:reply, state.pending.get(state, ref), state}
  def handle_call(:registry_size, _from, state), do: {:reply, PhnCheck.Registry.size(state), state}

  def handle_call({:registered_count, cids}, _from, state),
    do: {:reply, Enum.count(cids, &(PhnCheck.Registry.lookup(state, &1) != nil)), state}

  def handle_call({:alive_count, cids}, _from, state) do
    count =
      Enum.count(cids, fn cid ->
        case PhnCheck.Registry.lookup(state, cid) do
          {_spec, node_pids, _meta} -> is_pid(pid = node_pids[node()]) and Process.alive?(pid)
          nil -> false
        end
      end)

    {:reply, count, state}
  end

  def handle_call(:local_children, _from, state) do
    count =
      if ProcessHub.Service.State.is_partitioned?(state),
        do: 0,
        else: DynamicSupervisor.count_children(state.procs.dist_sup).active

    {:reply, count, state}
  end

  @impl true
  def handle_cast({:operation_response, ref, node, results}, state),
    do: state.pending.handle_response(state, ref, node, results)

  @impl true
  def handle_info({:await_timeout, ref, from}, state), do: state.pending.handle_timeout(state, ref, from)

  def handle_info(:cleanup_expired_requests, state) do
    schedule_cleanup(state)
    {:noreply, state.pending.cleanup_expired(state)}
  end

  def handle_info({:requests_handle_event, requests}, state) do
    hub = Map.delete(state, :pending_operations)
    {:ok, _} = Task.start(PhnCheck.Worker, :handle_requests, [requests, hub])
    received = Enum.reduce(requests, state.received, fn %mod{}, acc -> Map.update(acc, mod, 1, &(&1 + 1)) end)
    {:noreply, %{state | received: received}}
  end

  def handle_info(msg, state) do
    case state.pending.handle_info(msg, state) do
      :unhandled -> {:noreply, state}
      reply -> reply
    end
  end

  ## Internals

  defp initiated(op, not_awaitable) do
    if Keyword.get(op.options, :awaitable), do: {:ok, op.future}, else: {:ok, not_awaitable}
  end

  defp put_defaults(opts, defaults) do
    Enum.reduce(defaults, opts, fn {key, value}, acc -> Keyword.put_new(acc, key, value) end)
  end

  defp schedule_cleanup(state) do
    interval = Storage.get(state.storage.misc, StorageKey.rqcli())
    Process.send_after(self(), :cleanup_expired_requests, interval)
  end

  defp start_dist_sup(name) do
    # Linked to the coordinator; its normal stop (toggle_quorum_failure) leaves the
    # coordinator running, as ProcessHub's hub supervisor does.
    DynamicSupervisor.start_link(strategy: :one_for_one, name: name)
  end
end
