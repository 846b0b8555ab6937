FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The metrics folder (PROMETHEUS_MULTIPROC_DIR in docker-compose) belongs to the app's user, so a new volume
# mounted there does too.
RUN useradd --system chargepay && DEBUG=true python manage.py collectstatic --noinput -v0 \
    && mkdir -p /var/lib/chargepay/metrics && chown chargepay /var/lib/chargepay/metrics
USER chargepay
EXPOSE 8000
CMD ["gunicorn", "chargepay.wsgi:application", "-c", "gunicorn.conf.py"]
