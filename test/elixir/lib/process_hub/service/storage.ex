defmodule ProcessHub.Service.Storage do
  @moduledoc """
  Stand-in for `ProcessHub.Service.Storage`: a key/value ETS table (the hub's "misc"
  storage). Rows are `{key, value}`; `get/2` answers `nil` for a missing key.
  """

  def new(name \\ :phn_misc), do: :ets.new(name, [:set, :public, read_concurrency: true])

  def get(table, key) do
    case :ets.lookup(table, key) do
      [{^key, value}] -> value
      _ -> nil
    end
  end

  def insert(table, key, value) do
    true = :ets.insert(table, {key, value})
  end
end
