defmodule ProcessHubNative.Telemetry do
  @moduledoc """
  `:telemetry` events of process_hub_native, emitted only when the `:telemetry`
  application is present: this library does not depend on it, and nothing changes
  without it. Event names start with `[:process_hub_native]`; see
  `ProcessHubNative.CNodeMonitor` for the C-node's.
  """

  @doc "Emits `[:process_hub_native | event]` when `:telemetry` is loaded; `:ok` either way."
  @spec execute([atom()], map()) :: :ok
  def execute(event, metadata) do
    if Code.ensure_loaded?(:telemetry) do
      apply(:telemetry, :execute, [
        [:process_hub_native | event],
        %{system_time: System.system_time()},
        metadata
      ])
    end

    :ok
  end
end
