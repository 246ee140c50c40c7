defmodule PhnCheck.LogForward do
  @moduledoc """
  An Erlang `:logger` handler that sends every log event's message, as a string, to a
  process: `{:phn_log, node, level, message}`. Lets a test read what a peer node logs.
  """

  @doc "Adds the handler on this node, forwarding to `pid`."
  def add(pid), do: :logger.add_handler(:phn_log_forward, __MODULE__, %{config: %{pid: pid}})

  @doc false
  def log(%{level: level, msg: msg, meta: meta}, %{config: %{pid: pid}}) do
    send(pid, {:phn_log, node(), level, text(msg, meta)})
  end

  defp text({:string, s}, _meta), do: IO.chardata_to_string(s)
  defp text({:report, report}, meta), do: inspect(report_text(report, meta))
  defp text({format, args}, _meta), do: IO.chardata_to_string(:io_lib.format(format, args))

  defp report_text(report, %{report_cb: cb}) when is_function(cb, 1), do: cb.(report)
  defp report_text(report, _meta), do: report
end
