defmodule PhnCheck.CallCount do
  @moduledoc """
  Counts calls to modules' exported functions on a set of nodes with
  `:erlang.trace_pattern/3` (`call_count`, external calls, every process): how a test
  tells which code ran, not only what it returned.
  """

  @doc "Runs `fun`; returns `%{module => calls to its exports on all nodes}` made meanwhile."
  def count(nodes, modules, fun) do
    set(nodes, modules, true)

    try do
      fun.()

      for m <- modules,
          into: %{},
          do: {m, Enum.sum(for n <- nodes, do: :erpc.call(n, __MODULE__, :calls, [m]))}
    after
      set(nodes, modules, false)
    end
  end

  defp set(nodes, modules, on?) do
    for n <- nodes, m <- modules do
      :erpc.call(n, :erlang, :trace_pattern, [{m, :_, :_}, on?, [:call_count]])
    end
  end

  @doc "Calls counted on this node to `module`'s exported functions."
  def calls(module) do
    # module_info/1 is left out: this very function calls it.
    for {f, a} <- module.module_info(:exports),
        f != :module_info,
        {:call_count, count} = :erlang.trace_info({module, f, a}, :call_count),
        is_integer(count),
        reduce: 0,
        do: (acc -> acc + count)
  end
end
