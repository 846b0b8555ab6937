FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system chargepay && DEBUG=true python manage.py collectstatic --noinput -v0
USER chargepay
EXPOSE 8000
CMD ["gunicorn", "chargepay.wsgi:application", "-c", "gunicorn.conf.py"]
