"""The email builder's designs: block types, validation and compilation to email HTML."""

from webapp.mail.design.blocks import BLOCK_TYPES
from webapp.mail.design.compiler import (
    DEFAULT_BRAND,
    DESIGN_VERSION,
    FONT_STACKS,
    CompileFailed,
    asset_ids,
    brand_of,
    builder_schema,
    compile_design,
    default_design,
    validate_design,
    walk_blocks,
)

__all__ = ["BLOCK_TYPES", "DEFAULT_BRAND", "DESIGN_VERSION", "FONT_STACKS", "CompileFailed", "asset_ids",
           "brand_of", "builder_schema", "compile_design", "default_design", "validate_design", "walk_blocks"]
