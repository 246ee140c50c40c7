defmodule PhnCheck.Cluster do
  @moduledoc """
  Test cluster helpers: makes the ExUnit VM a distributed node (starting epmd if needed;
  `ERL_EPMD_PORT` is honoured, so a private epmd works) and starts peer nodes with OTP's
  `:peer`, loaded with this VM's code paths (Elixir, this project, process_hub_native
  and its NIF).
  """

  @host ~c"127.0.0.1"

  @doc "Makes this VM a distributed node (long names on 127.0.0.1) unless it already is."
  def ensure_distributed! do
    unless Node.alive?() do
      {_, 0} = System.cmd("epmd", ["-daemon"])
      name = :"phn_check_#{System.pid()}@127.0.0.1"
      {:ok, _} = wait_ok(fn -> Node.start(name, :longnames) end, 50)
    end

    :ok
  end

  @doc """
  Starts a peer node linked to the caller; returns `{peer_pid, node}`. Option `paths`:
  a function that picks the code paths the peer gets from this VM's (default all).
  """
  def start_peer!(prefix, opts \\ []) do
    name = ~c"#{prefix}_#{System.pid()}_#{System.unique_integer([:positive])}"

    {:ok, peer, node} =
      :peer.start_link(%{
        name: name,
        host: @host,
        longnames: true,
        args: [~c"-setcookie", Atom.to_charlist(Node.get_cookie())],
        wait_boot: 30_000
      })

    paths = Enum.filter(:code.get_path(), Keyword.get(opts, :paths, fn _ -> true end))
    :ok = :erpc.call(node, :code, :add_paths, [paths])
    {:ok, _} = :erpc.call(node, :application, :ensure_all_started, [:elixir])
    {:ok, _} = :erpc.call(node, :application, :ensure_all_started, [:logger])
    # Same log level as here: quiet peers.
    :ok = :erpc.call(node, Logger, :configure, [[level: Logger.level()]])
    {peer, node}
  end

  def stop_peer(peer) do
    try do
      :peer.stop(peer)
    catch
      :exit, _ -> :ok
    end
  end

  @doc "Polls `fun` until it returns a truthy value (or fails after `timeout` ms)."
  def wait_until(fun, timeout \\ 5000) do
    deadline = System.monotonic_time(:millisecond) + timeout
    do_wait_until(fun, deadline)
  end

  defp do_wait_until(fun, deadline) do
    case fun.() do
      result when result not in [nil, false] ->
        result

      _ ->
        if System.monotonic_time(:millisecond) > deadline do
          raise "wait_until: condition not met in time"
        else
          Process.sleep(10)
          do_wait_until(fun, deadline)
        end
    end
  end

  defp wait_ok(fun, 0), do: fun.()

  defp wait_ok(fun, tries) do
    case fun.() do
      {:ok, _} = ok ->
        ok

      _ ->
        Process.sleep(100)
        wait_ok(fun, tries - 1)
    end
  end
end
