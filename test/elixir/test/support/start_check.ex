defmodule PhnCheck.StartCheck do
  @moduledoc """
  Runs `PhnCheck.Pending.CNode.start_cnode/1` (on whatever node it is called) and says
  what it left in the calling process: `{result, trap_exit, links_unchanged?, leftover}`,
  `leftover` the first message in the mailbox afterwards or `:none`.
  """

  def run(opts) do
    trapping = Process.flag(:trap_exit, false)
    links = Process.info(self(), :links)
    result = PhnCheck.Pending.CNode.start_cnode(opts)
    leftover = receive do: (msg -> {:message, msg}), after: (0 -> :none)
    {result, Process.flag(:trap_exit, trapping), Process.info(self(), :links) == links, leftover}
  end
end
