defmodule PhnCheck.CallCount do
  @moduledoc """
  Counts calls on a set of nodes with `:erlang.trace_pattern/3` (`call_count`, external
  calls, every process): how a test tells which code ran, not only what it returned.
  A pattern is a module (every exported function but `module_info`) or `{m, f, a}`.
  """

  @doc "Runs `fun`; returns `%{pattern => calls on all nodes}` made meanwhile."
  def count(nodes, patterns, fun) do
    set(nodes, patterns, true)

    try do
      fun.()

      for p <- patterns,
          into: %{},
          do: {p, Enum.sum(for n <- nodes, do: :erpc.call(n, __MODULE__, :calls, [p]))}
    after
      set(nodes, patterns, false)
    end
  end

  # A pattern only applies to loaded code: load the module first, and insist on a match.
  defp set(nodes, patterns, on?) do
    for n <- nodes, p <- patterns do
      {m, _, _} = mfa = mfa_pattern(p)
      {:module, ^m} = :erpc.call(n, :code, :ensure_loaded, [m])
      matched = :erpc.call(n, :erlang, :trace_pattern, [mfa, on?, [:call_count]])
      if matched == 0, do: raise("call_count: #{inspect(p)} matches nothing on #{n}")
    end
  end

  defp mfa_pattern({_m, _f, _a} = mfa), do: mfa
  defp mfa_pattern(module), do: {module, :_, :_}

  @doc "Calls counted on this node for `pattern`."
  def calls({_m, _f, _a} = mfa), do: calls_of(mfa)

  # module_info/1 is left out: this very function calls it.
  def calls(module) do
    for {f, a} <- module.module_info(:exports), f != :module_info, reduce: 0 do
      acc -> acc + calls_of({module, f, a})
    end
  end

  defp calls_of(mfa) do
    case :erlang.trace_info(mfa, :call_count) do
      {:call_count, count} when is_integer(count) -> count
      _ -> 0
    end
  end
end
