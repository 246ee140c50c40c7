defmodule PhnCheck.Child do
  @moduledoc """
  The children the check starts: an Agent holding its child id. `start_link({:fail, r})`
  fails to start with `{:error, r}`, for error paths. Specs are MFAs (no closures), so
  they travel to other nodes.
  """

  def spec(cid), do: %{id: cid, start: {__MODULE__, :start_link, [cid]}}
  def failing_spec(cid, reason), do: %{id: cid, start: {__MODULE__, :start_link, [{:fail, reason}]}}

  def start_link({:fail, reason}), do: {:error, reason}
  def start_link(cid), do: Agent.start_link(fn -> cid end)
end
