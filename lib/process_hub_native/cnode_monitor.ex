defmodule ProcessHubNative.CNodeMonitor do
  @moduledoc """
  Reports the life of this node's C-node through `Logger` and, when the `:telemetry`
  application is present, `:telemetry` events:

    * start — the owner (`phn_cnode`) is up: `[:process_hub_native, :cnode, :start]`,
      metadata `%{cnode: node, os_pid: pid}`;
    * restart — the owner restarted the C-node OS process (its OS pid changed):
      `[:process_hub_native, :cnode, :restart]`, metadata `%{cnode: node, os_pid: new,
      previous_os_pid: old}`;
    * exit — the owner itself exited (it gave up restarting, or was stopped):
      `[:process_hub_native, :cnode, :exit]`, metadata `%{reason: reason}`. The
      supervisor then restarts it, and this monitor with it.

  Measurements are `%{system_time: System.system_time()}`. The OS pid is polled every
  `poll_ms` milliseconds, so two restarts within one poll are reported as one.
  """
  use GenServer
  require Logger

  alias ProcessHubNative.Telemetry

  @spec child_spec(keyword()) :: Supervisor.child_spec()

  @doc "Starts the monitor; `:phn_cnode` must be running. Option: `poll_ms` (default 1000)."
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @impl GenServer
  def init(opts) do
    # The supervisor's shutdown then comes as a message, after the owner's DOWN: the
    # owner's exit is always reported before the monitor goes.
    Process.flag(:trap_exit, true)
    owner = Process.whereis(:phn_cnode) || exit(:phn_cnode_not_running)
    ref = Process.monitor(owner)
    {cnode, os_pid} = {:phn_cnode.cnode(), :phn_cnode.os_pid()}
    Logger.info("process_hub_native: C-node #{cnode} started (OS pid #{inspect(os_pid)})")
    Telemetry.execute([:cnode, :start], %{cnode: cnode, os_pid: os_pid})
    state = %{ref: ref, cnode: cnode, os_pid: os_pid, poll_ms: Keyword.get(opts, :poll_ms, 1000)}
    {:ok, schedule(state)}
  end

  @impl GenServer
  def handle_info(:poll, %{ref: nil} = state), do: {:noreply, state}

  def handle_info(:poll, state) do
    os_pid =
      try do
        :phn_cnode.os_pid()
      catch
        :exit, _ -> state.os_pid
      end

    if os_pid != state.os_pid and is_integer(os_pid) do
      Logger.warning(
        "process_hub_native: C-node #{state.cnode} restarted (OS pid #{inspect(state.os_pid)} -> #{os_pid})"
      )

      Telemetry.execute([:cnode, :restart], %{
        cnode: state.cnode,
        os_pid: os_pid,
        previous_os_pid: state.os_pid
      })
    end

    {:noreply, schedule(%{state | os_pid: if(is_integer(os_pid), do: os_pid, else: state.os_pid)})}
  end

  def handle_info({:DOWN, ref, :process, _pid, reason}, %{ref: ref} = state) do
    Logger.error("process_hub_native: C-node owner exited: #{inspect(reason)}")
    Telemetry.execute([:cnode, :exit], %{reason: reason})
    # The supervisor (rest_for_one) restarts the owner, then replaces this monitor.
    {:noreply, %{state | ref: nil}}
  end

  defp schedule(state) do
    Process.send_after(self(), :poll, state.poll_ms)
    state
  end
end
