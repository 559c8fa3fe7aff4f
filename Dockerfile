# One image for every service: `fte service NAME` (see helm/). Build: docker build -t fte-mesh .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY subjects subjects
COPY shared shared
COPY services services
COPY web web
# The CPU build of torch keeps the image small; the embedding model ships inside a package.
RUN pip install --no-cache-dir --prefix=/install \
      --extra-index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
 && pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --uid 10001 --create-home fte
USER 10001
ENV FTE_HOST=0.0.0.0 FTE_PORT=8000 FTE_LOG_FORMAT=json HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
EXPOSE 8000
ENTRYPOINT ["fte"]
CMD ["service", "ingress-web"]
