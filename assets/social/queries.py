"""What the social flow listens for: brand, product and catastrophe queries per language (and region).

These are X API v2 query strings (recent search and filtered-stream rules alike); the name is
the stream rule's tag and the `matched` column of `social_posts`. They are configuration: a
deployment replaces them through `XResource.queries`.
"""

from __future__ import annotations

from connectors.x import SearchQuery

DEFAULT_QUERIES: tuple[SearchQuery, ...] = (
    SearchQuery("brand_fr", '(claimflow OR "claimflow assurances" OR @ClaimflowAssur) lang:fr', "brand", "fr"),
    SearchQuery("brand_en", "(claimflow OR @ClaimflowAssur) lang:en", "brand", "en"),
    SearchQuery("brand_de", "(claimflow OR @ClaimflowAssur) lang:de", "brand", "de"),
    SearchQuery("garages", '(ReparExpress OR CarroPlus OR "Garages Martin")', "garage"),
    SearchQuery("peril_fr", "(grêle OR grele OR grêlons OR inondation OR inondé OR inondée OR inondées OR crue "
                            "OR tempête OR orage OR orages) lang:fr", "peril", "fr"),
    SearchQuery("peril_en", "(hail OR hailstorm OR flood OR flooding OR storm OR thunderstorm) lang:en", "peril", "en"),
    SearchQuery("peril_de", "(Hagel OR Hagelsturm OR Hagelkörner OR Hochwasser OR Überschwemmung OR Unwetter "
                            "OR Sturm) lang:de", "peril", "de"),
)
