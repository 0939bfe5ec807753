import { Button, Group, Modal, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

/** A confirmation dialog for destructive actions. */
export function Confirm({ opened, title, message, onConfirm, onClose, busy }: { opened: boolean; title: string; message: string; onConfirm: () => void; onClose: () => void; busy?: boolean }) {
  const { t } = useTranslation();
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={opened} onClose={onClose} title={title} centered>
      <Text size="sm">{message}</Text>
      <Group justify="flex-end" mt="md">
        <Button variant="default" onClick={onClose}>
          {t("common.cancel")}
        </Button>
        <Button color="red" onClick={onConfirm} loading={busy}>
          {t("common.confirm")}
        </Button>
      </Group>
    </Modal>
  );
}
