defmodule ProcessHub.StartResult do
  @moduledoc "Stand-in for `ProcessHub.StartResult` (REFERENCE.md §3.1)."
  @type t :: %__MODULE__{
          status: :ok | :error | nil,
          started: [{term(), [{node(), pid()}]}] | nil,
          errors: [{term(), term()}] | nil,
          rollback: boolean() | nil
        }
  defstruct status: nil, started: nil, errors: nil, rollback: nil
end
