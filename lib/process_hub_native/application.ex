defmodule ProcessHubNative.Application do
  @moduledoc """
  The application's supervision tree. With no configuration it supervises nothing.

  With

      config :process_hub_native, cnode: [start: true, max_restarts: 10, args: %{max_ops: 100_000}]

  it starts this node's C-node owner (`:phn_cnode.start_link/1`, registered as
  `phn_cnode`) with the other `cnode` options as its option map (`name`, `cookie`,
  `epmd_port`, `args`, `wrapper`, `max_restarts`: see `phn_cnode`), and beside it
  `ProcessHubNative.CNodeMonitor`, which logs the C-node's start, exit and restart
  (`poll_ms`, default 1000: how often it checks the C-node's OS pid). The two are
  supervised `:rest_for_one`: when the owner exits, the supervisor restarts it, then the
  monitor. The C-node joins the cluster as a node of its own: the BEAM node must be
  distributed, with a cookie, when the application starts, or the owner (and with it the
  application) does not start.

  `ProcessHubNative.install/1` reads `config :process_hub_native, mode: ...`; it does
  not need this application to be started.
  """
  use Application

  @impl Application
  @spec start(Application.start_type(), term()) :: {:ok, pid()} | {:error, term()}
  def start(_type, _args) do
    Supervisor.start_link(children(Application.get_env(:process_hub_native, :cnode, [])),
      strategy: :rest_for_one,
      name: ProcessHubNative.Supervisor
    )
  end

  @doc """
  The children for the `cnode` configuration (a keyword list): none unless `start: true`.
  """
  @spec children(keyword()) :: [Supervisor.child_spec()]
  def children(cnode_config) do
    if Keyword.get(cnode_config, :start, false) do
      {poll_ms, owner_opts} = Keyword.pop(Keyword.delete(cnode_config, :start), :poll_ms, 1000)
      owner_opts = owner_opts |> Map.new() |> Map.update(:args, %{}, &Map.new/1)

      [
        %{id: :phn_cnode, start: {:phn_cnode, :start_link, [owner_opts]}},
        {ProcessHubNative.CNodeMonitor, poll_ms: poll_ms}
      ]
    else
      []
    end
  end
end
