defmodule ProcessHub.StopResult do
  @moduledoc "Stand-in for `ProcessHub.StopResult` (REFERENCE.md §3.2)."
  @type t :: %__MODULE__{
          status: :ok | :error | nil,
          stopped: [{term(), [node()]}] | nil,
          errors: [{term(), term()}] | nil
        }
  defstruct status: nil, stopped: nil, errors: nil
end
