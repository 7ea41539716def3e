"""What a spec file may say and how it is read.

- :mod:`~convcalc.spec.document`: safe YAML with line numbers, without recursion;
- :mod:`~convcalc.layers.fields`: the field types, with one clear message each;
- :mod:`~convcalc.records`: the record a layer's ``forward`` returns;
- :mod:`~convcalc.layers.base` and :mod:`~convcalc.layers.blocks`: the layer types;
- :mod:`~convcalc.layers.registry`: the facts of every type, read by every command;
- :mod:`~convcalc.spec.validate`: from a document to a :class:`Spec`, and ``load_spec``;
- :mod:`~convcalc.spec.schema`: the JSON Schema for editors.

Nothing is imported here, so that commands load only what they use.
"""
