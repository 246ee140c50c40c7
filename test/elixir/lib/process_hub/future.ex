defmodule ProcessHub.Future do
  @moduledoc """
  Stand-in for `ProcessHub.Future` (REFERENCE.md §1): the handle of an awaitable
  operation, resolved by a call to the originating coordinator.
  """

  @type t :: %__MODULE__{
          future_resolver: {atom(), node()} | nil,
          ref: reference() | nil,
          timeout: non_neg_integer() | nil,
          action: :start | :stop | :unknown
        }

  defstruct future_resolver: nil, ref: nil, timeout: nil, action: :start

  @default_timeout 5000

  @doc """
  Resolves a future: `GenServer.call(future_resolver, {:await_result, ref}, timeout + 1000)`.
  Accepts a future, `{:ok, future}` or `{:error, reason}` (returned as is).
  """
  def await({:ok, %__MODULE__{} = future}), do: await(future)
  def await({:error, _} = error), do: error

  def await(%__MODULE__{future_resolver: {hub_id, node}, ref: ref} = future)
      when is_atom(hub_id) and is_atom(node) do
    timeout = future.timeout || @default_timeout

    try do
      GenServer.call({hub_id, node}, {:await_result, ref}, timeout + 1000)
    catch
      :exit, {:timeout, _} -> {:error, :timeout}
      :exit, {:noproc, _} -> {:error, :noproc}
    end
  end

  def await(_), do: {:error, :invalid_argument}
end
