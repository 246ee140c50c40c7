defmodule ProcessHubNative.DropIn do
  @moduledoc """
  Builds the module that `ProcessHubNative.install/1` loads in place of
  `ProcessHub.Service.RequestManager`: the original's struct (same fields, defaults and
  enforced keys) and, for every other function and arity the original exports, a
  function that calls the function of the same name and arity in its target module
  (`:phn_request_manager`, or `ProcessHubNative.Events` for the evented ones).

  The generated module persists the attribute `process_hub_native: [mode]`, which is how
  `ProcessHubNative.installed?/0` tells it from ProcessHub's own.
  """

  @typedoc "The original's struct: `{[{field, default}], enforced_keys}`, or `nil` if it has none."
  @type struct_spec :: {[{atom(), term()}], [atom()]} | nil

  @doc """
  The quoted `defmodule` of `target` delegating each function `{name, arity}` of
  `targets` to the module it maps to, marked with `mode`, with the struct of
  `struct_spec`.
  """
  @spec quoted(module(), atom(), %{{atom(), arity()} => module()}, struct_spec()) :: Macro.t()
  def quoted(target, mode, targets, struct_spec) do
    delegates = for {{name, arity}, to} <- Enum.sort(targets), do: delegate(to, name, arity)

    quote do
      defmodule unquote(target) do
        @moduledoc """
        ProcessHub's RequestManager replaced by `ProcessHubNative.install/1`: every
        function calls the native drop-in `:phn_request_manager`.
        `ProcessHubNative.uninstall/0` loads the original back.
        """
        Module.register_attribute(__MODULE__, :process_hub_native, persist: true)
        @process_hub_native unquote(mode)

        unquote(struct_ast(struct_spec))
        unquote_splicing(delegates)
      end
    end
  end

  defp struct_ast(nil), do: nil

  defp struct_ast({fields, required}) do
    quote do
      @enforce_keys unquote(required)
      defstruct unquote(Macro.escape(fields))
    end
  end

  defp delegate(drop_in, name, arity) do
    args = Macro.generate_arguments(arity, __MODULE__)

    quote do
      @doc false
      def unquote(name)(unquote_splicing(args)), do: unquote(drop_in).unquote(name)(unquote_splicing(args))
    end
  end
end
